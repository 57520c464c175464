#!/bin/sh
# Compiles the app into build/classes with the JDK's javac (Java 17 bytecode, so it runs on
# Lambda's java17 and java21 runtimes); nothing to download. Skipped when the classes are newer
# than the source. Needs a JDK (Debian: openjdk-17-jdk-headless).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
command -v javac >/dev/null 2>&1 || {
    echo "javac is not installed: install a JDK 17 or later (Debian: apt-get install openjdk-17-jdk-headless)" >&2
    exit 1
}
if [ ! build/classes/App.class -nt src/App.java ]; then
    rm -rf build/classes
    javac --release 17 -d build/classes src/App.java
fi
