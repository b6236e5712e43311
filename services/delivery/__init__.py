"""Delivery: couriers take dispensed drugs from the pharmacy to the patient's door."""
