"""Speed and memory figures: `make bench` runs every module here and prints what it measures."""
