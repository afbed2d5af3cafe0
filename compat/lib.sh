# Helpers shared by compat/run and the suites' run scripts. Source it; don't run it.

# compat_venv VENV REQUIREMENTS: makes VENV a virtualenv holding exactly the pinned
# REQUIREMENTS. Reinstalls only when the requirements file changed since the last install.
compat_venv() {
  local venv=$1 requirements=$2
  local stamp="$venv/.installed-requirements"
  if [[ -x $venv/bin/python ]] && cmp -s "$requirements" "$stamp"; then
    return 0
  fi
  local python=${PYTHON:-python3}
  local pip_args=(install --quiet --disable-pip-version-check -r "$requirements")
  echo "installing $(basename "$(dirname "$requirements")") dependencies into $venv" >&2
  rm -rf "$venv"
  if "$python" -m venv "$venv" 2> /dev/null; then
    "$venv/bin/python" -m pip "${pip_args[@]}" >&2 || return 1
  else
    # Debian's python3 lacks ensurepip unless python3-venv is installed: make the venv without
    # pip and install into it with the system's pip.
    rm -rf "$venv"
    "$python" -m venv --without-pip "$venv" || return 1
    "$python" -m pip --python "$venv/bin/python" "${pip_args[@]}" >&2 || return 1
  fi
  cp "$requirements" "$stamp"
}

# compat_require_endpoint: the suites talk to a smemu that someone else started.
compat_require_endpoint() {
  if [[ -z ${SMEMU_ENDPOINT:-} ]]; then
    echo "SMEMU_ENDPOINT is not set: start smemu and export its URL, or use compat/run" >&2
    return 1
  fi
}
