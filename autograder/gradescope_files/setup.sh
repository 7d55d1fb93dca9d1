#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu base image).
# It installs Python and the grader's requirements into /autograder/venv, which run_autograder uses.
set -euo pipefail
SOURCE=/autograder/source

apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null

python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install -q --upgrade pip
/autograder/venv/bin/python -m pip install -q -r "$SOURCE/requirements.txt"

# Without a shipped mnist.npz, fetch MNIST now, into Keras' cache in the image, so that each
# submission does not download it again. Grading falls back to the offline sample if this fails.
if [ ! -f "$SOURCE/data/mnist.npz" ]; then
  /autograder/venv/bin/python -c "import keras; keras.datasets.mnist.load_data()" \
    || echo "setup.sh: could not download MNIST; grading will use the offline sample"
fi
