"""Accord's staff portal: a server-rendered backend-for-frontend on the GOV.UK Design System."""
