"""Generators of the synthetic scene data sets (COCO, ADE20K and VOC file
formats) that the demo, the tests and the study train and test on."""
