"""Local exchange simulator speaking each exchange's wire formats (powers --demo and end-to-end tests)."""
