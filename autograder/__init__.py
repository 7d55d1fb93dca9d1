"""The Handwritten Digits autograder (`python -m autograder`) and the instructor tools."""
