"""The notify Lambda: turns a pipeline execution's outcome into an SNS email and SMS."""
