"""Pictures without Graphviz: what a picture groups and folds, and the plan it hands to dot.

``folds`` finds neurons, layers and sums of products in a graph; ``marks`` says how one value,
operation or edge looks (records, colours, escaped text); ``plan`` lays the nodes and edges out in
the order dot gets them and counts their layout cost before dot runs. ``viz`` turns a plan into a
Graphviz graph and renders it.
"""
