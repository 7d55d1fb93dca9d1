"""Instructor tools: thin command-line apps over the grader.

- `generate`: exercises/ from solutions/ (`python -m autograder.instructor.generate`).
- `gradescope`: the Gradescope autograder zip (+ `gradescope_files/`).
- `batch`: a class's submissions to a CSV, resumable, in the sandbox, one long-lived judge
  (`serve`) per slot; with `class_report`
  (`--report`), `similarity` (with `probe`), `canvas` (`--canvas`) and `hidden` (`--hidden`).
- `collect`: finds a submission's notebooks and model files at any depth.
- `tamper`: the GitHub Classroom fingerprint of every file outside exercises/.
"""
