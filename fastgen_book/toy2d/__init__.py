"""The toy 2D stack of lesson 1: data, teachers, samplers, consistency models, metrics."""
