"""``make deploy-check``: build the images and run the compose stack on this machine, end to end.

Run as root: ``python -m deploy.check`` (see docs/operations.md, "Checking a deployment").
"""
