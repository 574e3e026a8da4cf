"""The ECI runtime seam: a Protocol the handlers talk to, and the simulation that implements it.

A real cloud backend would be a second implementation of ``Runtime``; the handlers would not change.
"""
