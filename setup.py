from setuptools import find_packages, setup

setup(
    name='mmdet_e3va',
    version='0.1.0',
    description='E3VA adapter tuning for Swin in MMDetection 3.x and '
    'MMSegmentation 1.x (arXiv 2306.09729)',
    license='Apache License 2.0',
    packages=find_packages(include=['mmdet_e3va', 'mmdet_e3va.*']),
    python_requires='>=3.8',
    install_requires=[
        'torch>=2.4', 'mmengine==0.10.7', 'mmcv>=2.0.0,<2.2.0',
        'mmdet==3.3.0', 'mmsegmentation==1.2.2', 'ftfy', 'regex',
        'safetensors'
    ],
)
