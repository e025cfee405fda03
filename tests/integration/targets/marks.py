"""The "# @mark:NAME" comments of a target file: the lines its ground truth names.

A target logs, for the frames it expects in a stack, the line of each mark,
so the tests compare the tool's file:line against the source itself.
"""


def marks(path):
    """{NAME: line} of the "# @mark:NAME" comments in the file at path."""
    found = {}
    with open(path) as f:
        for i, line in enumerate(f, 1):
            k = line.find("# @mark:")
            if k >= 0 and "find(" not in line:
                name = line[k + 8:].split()[0]
                if name.isidentifier():
                    found[name] = i
    return found
