"""Where learner code runs, and how it reaches the judge.

- `protocol`: the messages between judge and worker, the `Learner` interface and `LearnerFailure`.
- `worker`: the only process that runs learner code (`python -m autograder.isolation.worker`).
- `sandbox`: the judge's side of the worker: `WorkerSupply`, `SandboxLearner`, time limits.
- `modelfile`: learners' model files, read in the worker only; the Keras floor (`KERAS_FLOOR`).
- `confinement`: bubblewrap, another user, or none (`AUTOGRADER_SANDBOX`).
- `processes`: no process left behind, none that learner code can reach.
"""
