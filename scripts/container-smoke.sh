#!/usr/bin/env bash
# Proves the container image works: builds it (--build), starts it on loopback ports with a
# throw-away configuration and volume, and checks /readyz, the HEALTHCHECK command, a Japanese
# mail with attachments over SMTP delivered disarmed into lgwan/, an HTTP upload (202, then
# delivered), an RTF converted by LibreOffice inside the sandbox (blocked if bubblewrap cannot
# run, so a delivered .docx proves the sandbox works), `gateway audit verify`, a prompt stop on
# SIGTERM and a restart on the same volume. Removes its container and volume afterwards.
#   bash scripts/container-smoke.sh [--build] [--root] [--image NAME] [--engine podman|docker]
# --root runs the service as root with per-job uids (the Dockerfile's way 2) instead of as the
# image's user. Without a working engine (podman or docker) it says so and exits 0 (skipped).
# Engine options can be added with CONTAINER_RUN_OPTS (e.g. "--security-opt apparmor=unconfined").
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image=lgwan-gateway build=false as_root=false engine=""
smtp_port="${SMOKE_SMTP_PORT:-12525}" http_port="${SMOKE_HTTP_PORT:-18080}"
while (($#)); do
  case "$1" in
    --build) build=true ;;
    --root) as_root=true ;;
    --image) image="$2"; shift ;;
    --engine) engine="$2"; shift ;;
    *) echo "container-smoke: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z "$engine" ]]; then
  for candidate in podman docker; do
    if command -v "$candidate" >/dev/null && "$candidate" info >/dev/null 2>&1; then engine="$candidate"; break; fi
  done
fi
if [[ -z "$engine" ]] || ! "$engine" info >/dev/null 2>&1; then
  echo "container-smoke: skipped (no working podman or docker engine here)"
  exit 0
fi

name="gateway-smoke-$$" volume="gateway-smoke-$$"
work="$(mktemp -d)"
cleanup() {
  "$engine" rm -f "$name" >/dev/null 2>&1 || true
  "$engine" volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "container-smoke: FAILED: $*" >&2; "$engine" logs --tail 30 "$name" >&2 || true; exit 1; }
step() { echo "container-smoke: $*"; }

if $build; then
  format=()
  [[ "$engine" == podman ]] && format=(--format docker)   # an OCI image would drop the HEALTHCHECK
  step "building $image with $engine"
  started=$SECONDS
  "$engine" build "${format[@]}" -t "$image" "$root" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; exit 1; }
  step "built in $((SECONDS - started)) s"
fi

# A loopback-only configuration: published ports arrive from the engine's bridge (a private range)
cat >"$work/gateway.toml" <<'EOF'
[serve]
relay_networks = "127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"
recipient_domains = "city.example.lg.jp"
lgwan_smtp = ""
min_free_mb = 256
[mail]
subject_tag = "[外部]"
[antivirus]
engines = ""
EOF
chmod 0644 "$work/gateway.toml"
if $as_root; then
  mode=(--user root --security-opt seccomp=unconfined --cap-add SYS_ADMIN --cap-add NET_ADMIN)
else
  mode=(--security-opt seccomp=unconfined --security-opt systempaths=unconfined)
fi
# shellcheck disable=SC2206
extra=(${CONTAINER_RUN_OPTS:-})
run() {
  "$engine" run -d --name "$name" "${mode[@]}" "${extra[@]}" \
    -p "127.0.0.1:$smtp_port:2525" -p "127.0.0.1:$http_port:8080" \
    -v "$work/gateway.toml:/etc/gateway/gateway.toml:ro" -v "$volume:/var/lib/gateway" "$image" >/dev/null
}
ready() {
  for _ in $(seq 90); do
    python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$http_port/readyz', timeout=2)" \
      2>/dev/null && return 0
    [[ "$("$engine" inspect -f '{{.State.Running}}' "$name")" == true ]] || fail "the container stopped"
    sleep 1
  done
  fail "/readyz did not answer 200 within 90 s"
}
in_container() { "$engine" exec "$name" /opt/gateway/.venv/bin/python -c "$@"; }

step "starting $image ($engine, $(if $as_root; then echo 'as root, a uid per job'; else echo "as the image's user"; fi))"
run
ready
step "/readyz: ready"
"$engine" exec "$name" /opt/gateway/.venv/bin/python -c \
  "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/readyz', timeout=4)" || fail "the HEALTHCHECK command"
step "HEALTHCHECK command: ok"

# An RTF goes through LibreOffice inside the sandbox; a .docm is rebuilt without its macros
python3 - "$smtp_port" "$work" <<'EOF'
import io, smtplib, sys, zipfile
from email.message import EmailMessage
from pathlib import Path

rtf = (b"{\\rtf1\\ansi\\ansicpg932\\deff0{\\fonttbl{\\f0\\fnil\\fcharset128 MS Mincho;}}\\f0 "
       b"\\'8b\\'63\\'8e\\'96\\'98\\'5e container smoke\\par }")  # 議事録 in CP932
docx = io.BytesIO()
with zipfile.ZipFile(docx, "w") as z:
    z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
               'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
               'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
               '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
               'wordprocessingml.document.main+xml"/></Types>')
    z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
               'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
               'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
               '</Relationships>')
    z.writestr("word/document.xml", '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
               'openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>予算資料</w:t></w:r></w:p>'
               '</w:body></w:document>')
Path(sys.argv[2], "起案文書.rtf").write_bytes(rtf)
message = EmailMessage()
message["From"] = "山田 太郎 <taro@example.jp>"
message["To"] = "総務課 <soumu@city.example.lg.jp>"
message["Subject"] = "予算資料の送付（コンテナ試験）"
message.set_content("総務課 御中\n\n資料を添付します。\n", charset="iso-2022-jp")
message.add_attachment(docx.getvalue(), maintype="application", subtype="octet-stream", filename="予算資料.docx")
message.add_attachment(rtf, maintype="application", subtype="rtf", filename="議事録.rtf")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30) as smtp:
    refused = smtp.send_message(message)
assert not refused, refused
EOF
step "mail sent over SMTP"

check_mail='
import email, email.policy, io, pathlib, sys, time, zipfile
deadline = time.time() + 120
while not (found := sorted(pathlib.Path("/var/lib/gateway/lgwan").glob("*.eml"))) and time.time() < deadline:
    time.sleep(1)
if not found:
    sys.exit("no mail in lgwan/")
mail = email.message_from_bytes(found[0].read_bytes(), policy=email.policy.default)
names = {}
for part in mail.iter_attachments():
    names[part.get_filename()] = zipfile.ZipFile(io.BytesIO(part.get_payload(decode=True))).read("word/document.xml")
assert mail["Subject"].startswith("[外部]"), mail["Subject"]
assert "予算資料" in names["予算資料.docx"].decode(), names
assert "議事録" in names["議事録.docx"].decode(), "the RTF was not converted (sandbox or LibreOffice failed)"
print(mail["Subject"], sorted(names))
'
in_container "$check_mail" || fail "the mail was not delivered disarmed"
step "mail delivered into lgwan/, the RTF converted by LibreOffice in the sandbox"

token="$("$engine" exec "$name" /opt/gateway/.venv/bin/gateway token create --role uploader --name smoke \
  --data-dir /var/lib/gateway | tail -1)"
python3 - "$http_port" "$token" "$work/起案文書.rtf" <<'EOF'
import json, sys, time, urllib.request, uuid
from pathlib import Path

port, token, path = sys.argv[1], sys.argv[2], Path(sys.argv[3])
boundary = uuid.uuid4().hex
body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        f"Content-Type: application/rtf\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
headers = {"Authorization": f"Bearer {token}"}
request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/transfers", body, method="POST",
                                 headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
with urllib.request.urlopen(request, timeout=30) as answer:
    assert answer.status == 202, answer.status
    transfer = json.load(answer)["id"]
for _ in range(120):
    with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/transfers/{transfer}",
                                                       headers=headers), timeout=10) as answer:
        status = json.load(answer)
    if status["status"] == "done":
        break
    time.sleep(1)
[result] = status["files"]
assert (result["outcome"], result["verified"]) == ("sanitized", True), result
print(transfer, result["outcome"], [o["path"] for o in result["outputs"]])
EOF
"$engine" exec "$name" sh -c 'ls /var/lib/gateway/lgwan-files/*/0/*.docx' >/dev/null || fail "the upload was not delivered"
step "upload accepted (202), disarmed and delivered into lgwan-files/"

"$engine" exec "$name" /opt/gateway/.venv/bin/gateway audit verify --data-dir /var/lib/gateway >/dev/null \
  || fail "gateway audit verify"
step "audit log intact"

started=$SECONDS
"$engine" stop -t 60 "$name" >/dev/null
code="$("$engine" inspect -f '{{.State.ExitCode}}' "$name")"
step "stopped in $((SECONDS - started)) s, exit code $code"
[[ "$code" == 0 ]] || fail "exit code $code after SIGTERM"
"$engine" start "$name" >/dev/null
ready
"$engine" exec "$name" /opt/gateway/.venv/bin/gateway audit verify --data-dir /var/lib/gateway >/dev/null \
  || fail "gateway audit verify after the restart"
step "restarted on the same volume: ready, audit log intact"
step "passed"
