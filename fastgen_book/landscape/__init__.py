"""Lesson 3's synthesis: the quality-speed curve, its regions and Pareto frontier, and the
composability grid with the measurements behind it."""
