"""Prescriber: the village clinic doctor issues, cancels and follows e-prescriptions."""
