"""Runs the unit tests in this directory and prints TAP (for test/suites/python.sh):
`ok N - test`, or `not ok N - test` followed by the traceback as # lines.
Exit status 0 when every test passed."""
import os
import sys
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, note=""):
        self.n += 1
        doc = test.shortDescription()
        name = test.id().split(".", 1)[-1] + (": " + doc if doc else "")
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, name, note), flush=True)

    def _diag(self, text):
        for line in text.rstrip("\n").split("\n"):
            print("# " + line)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        self._diag(self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        self._diag(self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, " # SKIP " + reason)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, " (unexpected success)")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, " # TODO expected failure")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
    print("1..%d" % suite.countTestCases(), flush=True)
    result = TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() and result.testsRun == suite.countTestCases() else 1


if __name__ == "__main__":
    sys.exit(main())
