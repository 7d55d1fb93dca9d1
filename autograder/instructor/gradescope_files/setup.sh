#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu base image).
# It installs Python and the grader's requirements into /autograder/venv, which run_autograder uses.
set -euo pipefail
SOURCE=/autograder/source

apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
# bubblewrap: the grader's sandbox for learner code, where the container allows it.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null \
  || echo "setup.sh: bubblewrap not installed; learner code runs as the unprivileged user only"

# The unprivileged user that runs learner code (run_autograder names it): it cannot write the
# grader, the data or the results, nor signal the grader, which runs as root.
id -u autograder-learner >/dev/null 2>&1 \
  || useradd --system --no-create-home --shell /usr/sbin/nologin autograder-learner

python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install -q --upgrade pip
/autograder/venv/bin/python -m pip install -q -r "$SOURCE/requirements.txt"

# Without a shipped mnist.npz, fetch MNIST now, into Keras' cache in the image, so that each
# submission does not download it again. Grading falls back to the offline sample if this fails.
if [ ! -f "$SOURCE/data/mnist.npz" ]; then
  /autograder/venv/bin/python -c "import keras; keras.datasets.mnist.load_data()" \
    || echo "setup.sh: could not download MNIST; grading will use the offline sample"
fi
