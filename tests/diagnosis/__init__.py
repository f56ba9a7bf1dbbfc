"""Tests of the error-text diagnosis (dialogs/diagnosis.py) and its corpus."""
