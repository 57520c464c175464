#!/bin/sh
# Nothing to install: the consumer uses only Python's standard library.
exit 0
