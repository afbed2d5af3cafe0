"""A stand-in for the `testcontainers` package, for checking the README's recipe without Docker.

`DockerContainer("smemu")` starts the smemu binary named by $SMEMU_BIN instead of the image, on
loopback and a free port, with the container's environment; everything after the container has
started (the endpoint, boto3, the control API) then runs for real. check_readme.py first checks
every call the recipe makes against the real package's signatures, so the two cannot drift apart.
"""
