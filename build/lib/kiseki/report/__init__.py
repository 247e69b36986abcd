"""Reading the trajectory back: tables and plots from the store."""
