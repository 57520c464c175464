#!/bin/sh
# Starts the example app. Lambda (zip layer: AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap, handler
# run.sh) or `lambda-emulator --snap-start -- examples/snapstart/run.sh` runs this.
cd "$(dirname "$0")" && exec python3 app.py
