#!/bin/sh
# Starts the app on 127.0.0.1:$PORT (default 8080), where lambda-adapter forwards each event.
# Tiered compilation stopped at C1 and the serial collector start a small JVM fastest (cold starts).
HERE=$(cd "$(dirname "$0")" && pwd)
exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$HERE/build/classes" App
