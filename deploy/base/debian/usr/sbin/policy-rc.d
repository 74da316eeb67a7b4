#!/bin/sh
# Packages installed while an image is built must not start their services.
exit 101
