"""Kernels: the one seam between sequence layers and the code that runs them.

`recurrence` holds the dispatch and the default kernels (loop, hand-written
backward pass, CPU row groups); `tflite` registers the TFLite lowerings that
exporters select at trace time.
"""
