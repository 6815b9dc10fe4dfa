"""The service around the graphs: configuration, graph loading and binding, serving, drawing, validation."""
