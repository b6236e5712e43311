"""Pharmacy: hospital and designated retail pharmacies (双通道) claim, dispense and trace prescriptions."""
