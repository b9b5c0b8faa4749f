#!/usr/bin/env bash
# bwc-conf.sh: reads scalar fields of bwc-camd's configuration (protobuf text format,
# proto/bwc/v1/config.proto) for the board's shell helpers (bwc-usb-gadget,
# bwc-dock-watch), which source it:
#
#   . /usr/local/lib/bwc/bwc-conf.sh
#   conf_get /etc/bwc/camd.conf dock.interface     # prints usb0, or nothing when unset
#
# Run, it prints one field: bwc-conf.sh FILE FIELD (e.g. /etc/bwc/camd.conf dock.address);
# -h, --help prints this text.
#
# It follows the text format's tokens (comments, quoted strings with escapes, nested
# "name { ... }" / "name: { ... }" / "name < ... >" blocks, "," and ";" separators, lists
# in [ ]), not lines, so a configuration written on one line or sent by the dock in
# another layout reads the same. It does not validate: bwc-camd --check-config does.
# Exit status 2 when the file cannot be read.

conf_get() {
  local file=$1 field=$2
  if [ ! -r "$file" ]; then
    echo "conf_get: cannot read $file" >&2
    return 2
  fi
  awk -v want="$field" '
    function unquote(t,    q, out, i, c) {
      q = substr(t, 1, 1)
      t = substr(t, 2, length(t) - 2)
      out = ""
      for (i = 1; i <= length(t); i++) {
        c = substr(t, i, 1)
        if (c == "\\" && i < length(t)) {
          i++
          c = substr(t, i, 1)
          if (c == "n") c = "\n"
          else if (c == "t") c = "\t"
        }
        out = out c
      }
      return out
    }
    { text = text $0 "\n" }
    END {
      n = length(text); i = 1; depth = 0; prefix[0] = ""; name = ""; inlist = 0
      found = 0
      while (i <= n) {
        c = substr(text, i, 1)
        if (c == " " || c == "\t" || c == "\n" || c == "\r") { i++; continue }
        if (c == "#") {
          while (i <= n && substr(text, i, 1) != "\n") i++
          continue
        }
        if (c == "\"" || c == "\047") {
          j = i + 1
          while (j <= n && substr(text, j, 1) != c) {
            if (substr(text, j, 1) == "\\") j++
            j++
          }
          tok = substr(text, i, j - i + 1); i = j + 1; kind = "string"
        } else if (index("{}<>:;,[]", c) > 0) {
          tok = c; i++; kind = "punct"
        } else {
          j = i
          while (j <= n && index(" \t\r\n#\"\047{}<>:;,[]", substr(text, j, 1)) == 0) j++
          tok = substr(text, i, j - i); i = j; kind = "word"
        }

        if (kind == "punct") {
          if (tok == "{" || tok == "<") {
            depth++; prefix[depth] = prefix[depth - 1] name "."; name = ""
          } else if (tok == "}" || tok == ">") {
            if (depth > 0) depth--
            name = ""
          } else if (tok == "[") {
            inlist = 1
          } else if (tok == "]") {
            inlist = 0; name = ""
          }
          continue
        }
        if (inlist) {
          if (name != "" && prefix[depth] name == want) {
            value = (kind == "string") ? unquote(tok) : tok; found = 1
          }
          continue
        }
        if (name == "") {
          if (kind == "word") name = tok
          continue
        }
        # A value (a string may continue with adjacent strings: "a" "b").
        value_tok = (kind == "string") ? unquote(tok) : tok
        if (prefix[depth] name == want) {
          value = value_tok; found = 1
          while (1) {
            while (i <= n && index(" \t\r\n", substr(text, i, 1)) > 0) i++
            c = substr(text, i, 1)
            if (kind != "string" || (c != "\"" && c != "\047")) break
            j = i + 1
            while (j <= n && substr(text, j, 1) != c) {
              if (substr(text, j, 1) == "\\") j++
              j++
            }
            value = value unquote(substr(text, i, j - i + 1)); i = j + 1
          }
        }
        name = ""
      }
      if (found) print value
    }
  ' "$file"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    -h|--help) sed -n '2,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
  [ $# = 2 ] || { echo "bwc-conf.sh: give FILE FIELD, e.g. /etc/bwc/camd.conf dock.address (see --help)" >&2; exit 2; }
  conf_get "$1" "$2"
fi
