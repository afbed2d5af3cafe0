# smemu's Python runtime: one long-lived process per function. It reads one invocation per line
# on stdin and answers each with one line on stdout that starts with the nonce smemu passed in
# SMEMU_LAMBDA_NONCE; whatever the function prints is captured and sent back with the answer.
import importlib
import io
import json
import logging
import os
import sys
import time
import traceback

NONCE = os.environ.pop("SMEMU_LAMBDA_NONCE", "")
HANDLER = os.environ.pop("SMEMU_LAMBDA_HANDLER", "")
PROTOCOL = sys.stdout


class Capture(io.TextIOBase):
    """Where the function's stdout, stderr and logging go during an invocation."""

    def __init__(self):
        self.parts = []

    def writable(self):
        return True

    def write(self, text):
        self.parts.append(str(text))
        return len(text)

    def take(self):
        text = "".join(self.parts)
        self.parts = []
        return text


CAPTURE = Capture()
sys.stdout = CAPTURE
sys.stderr = CAPTURE


class ToCapture(logging.Handler):
    def emit(self, record):
        try:
            CAPTURE.write(self.format(record) + "\n")
        except Exception:  # a log line must never fail the invocation
            pass


_handler = ToCapture()
_handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(aws_request_id)s\t%(message)s"))


class RequestId(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = RequestId.request_id
        return True


_handler.addFilter(RequestId())
logging.getLogger().addHandler(_handler)
logging.getLogger().setLevel(logging.WARNING)


def error_of(exc, error_type=None):
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": RequestId.request_id,
        # The runtime's own frame (this file runs as "<string>") is not the function's.
        "stackTrace": traceback.format_list(
            [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename != "<string>"]
        ),
    }


def load():
    module_name, _, function_name = HANDLER.rpartition(".")
    if not module_name or not function_name:
        return None, {"errorMessage": f"Bad handler '{HANDLER}': not enough values to unpack (expected 2, got 1)",
                      "errorType": "Runtime.MalformedHandlerName", "stackTrace": []}
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as exc:
        return None, {"errorMessage": f"Unable to import module '{module_name}': {exc}",
                      "errorType": "Runtime.ImportModuleError", "stackTrace": []}
    function = getattr(module, function_name, None)
    if function is None:
        return None, {"errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
                      "errorType": "Runtime.HandlerNotFound", "stackTrace": []}
    return function, None


class Context:
    def __init__(self, request):
        self.aws_request_id = request["requestId"]
        self.function_name = request["functionName"]
        self.function_version = request["functionVersion"]
        self.invoked_function_arn = request["invokedFunctionArn"]
        self.memory_limit_in_mb = str(request["memoryLimitInMB"])
        self.log_group_name = request["logGroupName"]
        self.log_stream_name = request["logStreamName"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = request["deadlineMs"]

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def answer(reply):
    PROTOCOL.write(NONCE + " " + json.dumps(reply) + "\n")
    PROTOCOL.flush()


def main():
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    function, init_error = load()
    init_logs = CAPTURE.take()
    # The init phase is over: from here on the function's own timeout runs.
    answer({"ready": True})
    for line in sys.stdin.buffer:
        request = json.loads(line)
        RequestId.request_id = request["requestId"]
        reply = {}
        if init_error is not None:
            reply = {"ok": False, "error": init_error}
        else:
            try:
                result = function(request["event"], Context(request))
                reply = {"ok": True, "result": result}
                json.dumps(reply)
            except Exception as exc:
                reply = {"ok": False, "error": error_of(exc)}
            except SystemExit as exc:
                reply = {"ok": False, "error": error_of(exc, "Runtime.ExitError")}
        logs = init_logs + CAPTURE.take()
        init_logs = ""
        reply["logs"] = logs
        try:
            answer(reply)
        except (TypeError, ValueError) as exc:
            answer({"ok": False, "logs": logs, "error": {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError", "stackTrace": []}})


main()
