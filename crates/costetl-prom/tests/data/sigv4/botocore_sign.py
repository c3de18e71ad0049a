"""Independent SigV4 check for crates/costetl-prom/tests/sigv4.rs.

Reads a request as a loopback server received it (JSON on stdin: method,
url, headers as [name, value] pairs, body as a list of bytes, credentials,
region, service, time as RFC 3339) and prints, as JSON, the Authorization
header botocore's SigV4Auth computes for it and botocore's canonical request.

Like an AWS service, it signs the headers the request's own SignedHeaders
names (the rest were added by the HTTP client after signing) and checks the
body hash itself rather than trusting x-amz-content-sha256. x-amz-date and
x-amz-security-token are set by botocore from the time and credentials.
"""

import datetime
import hashlib
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    req = json.load(sys.stdin)
    headers = req["headers"]
    body = bytes(req["body"])
    ours = [v for n, v in headers if n == "authorization"]
    if len(ours) != 1:
        sys.exit(f"expected one authorization header, got {ours!r}")
    signed = ours[0].split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")

    sha = [v for n, v in headers if n == "x-amz-content-sha256"]
    if sha != [hashlib.sha256(body).hexdigest()]:
        sys.exit(f"x-amz-content-sha256 {sha!r} is not the body's SHA-256")

    skip = {"authorization", "x-amz-date", "x-amz-security-token"}
    to_sign = [(n, v) for n, v in headers if n in signed and n not in skip]
    missing = set(signed) - {n for n, _ in headers}
    if missing:
        sys.exit(f"signed headers {missing!r} were not received")

    when = datetime.datetime.strptime(req["time"], "%Y-%m-%dT%H:%M:%SZ")
    # botocore reads the clock through this module-level function.
    botocore.auth.get_current_datetime = lambda: when

    request = AWSRequest(method=req["method"], url=req["url"], data=body)
    for name, value in to_sign:
        request.headers[name] = value
    creds = Credentials(
        req["access_key_id"], req["secret_access_key"], req["session_token"]
    )
    auth = botocore.auth.SigV4Auth(creds, req["service"], req["region"])
    auth.add_auth(request)
    authorization = request.headers["Authorization"]
    # The canonical request too (as signed: without Authorization), for the
    # test's failure message.
    del request.headers["Authorization"]
    print(
        json.dumps(
            {
                "authorization": authorization,
                "canonical_request": auth.canonical_request(request),
            }
        )
    )


if __name__ == "__main__":
    main()
