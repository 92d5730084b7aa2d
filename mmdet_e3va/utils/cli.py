"""Argument types shared by the command-line tools."""
import argparse


def int_at_least(minimum):
    """argparse type: an int of at least ``minimum``."""
    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f'must be at least {minimum}, got {value}')
        return value
    return parse

