"""Running the simulated parties in containers (issue 12): the image, the mounts, the compose file."""
