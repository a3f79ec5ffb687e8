#!/usr/bin/env bash
# Builds the Debian package nslab_VERSION_ARCH.deb: a release binary with the Swift standard
# library linked in statically (it runs where Swift is not installed), a man page for nslab and
# for each subcommand (from the command definitions, by swift-argument-parser's generate-manual),
# bash, zsh and fish completions, the JSON Schema and the examples under /usr/share/nslab.
#
#   scripts/package.sh [--out DIR]      # default DIR: .build/package
#
# The version is NSLabVersion.number (Sources/nslab/Version.swift), read back from the binary's
# own `--version`; the git commit is compiled in (`nslab --version` prints both). Prints the
# path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=.build/package
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

need=()
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
command -v strip >/dev/null || need+=(binutils)
command -v git >/dev/null || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  echo "package.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "package.sh: swift is not on PATH; building the package needs the Swift toolchain (installing it does not)" >&2; exit 1; }

# The commit, as a generated source file compiled only with -D NSLAB_BUILD_COMMIT (a plain
# `swift build` never sees it and prints "unknown"). Removed again when the build is done.
commit=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit-dirty"
fi
generated=Sources/nslab/BuildCommit.generated.swift
trap 'rm -f "$root/$generated"' EXIT
cat > "$generated" <<EOF
// Written by scripts/package.sh for one build; not in git.
#if NSLAB_BUILD_COMMIT
let generatedBuildCommit = "$commit"
#endif
EOF

# A build directory of its own: the flags differ from a plain release build's, and sharing
# .build/release would make each rebuild the other's modules.
scratch=.build/package-build
build=(swift build -c release --static-swift-stdlib --scratch-path "$scratch" -Xswiftc -DNSLAB_BUILD_COMMIT)
echo "package.sh: ${build[*]} (several minutes from nothing)" >&2
started=$SECONDS
"${build[@]}" --product nslab >&2
# The man page generator is swift-argument-parser's own tool (what its generate-manual plugin
# runs); built here directly so that it documents this very binary instead of a second build.
"${build[@]}" --product generate-manual >&2
rm -f "$generated"
echo "package.sh: built in $((SECONDS - started)) s" >&2
bin=$("${build[@]}" --show-bin-path)
nslab=$bin/nslab

version_line=$("$nslab" --version)
version=${version_line%% *}
case $version in
  [0-9]*) ;;
  *) echo "package.sh: cannot read a version from \`nslab --version\` (got: $version_line)" >&2; exit 1 ;;
esac
arch=$(dpkg --print-architecture)
if ldd "$nslab" | grep -q 'libswift\|libFoundation\|libdispatch'; then
  echo "package.sh: the binary still needs Swift's shared libraries:" >&2
  ldd "$nslab" >&2
  exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/nslab-package.XXXXXX")
trap 'rm -f "$root/$generated"; rm -rf "$stage"' EXIT
pkg=$stage/nslab_${version}_$arch
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/share/man/man1" "$pkg/usr/share/doc/nslab" \
  "$pkg/usr/share/nslab/schema" "$pkg/usr/share/nslab/examples" \
  "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" \
  "$pkg/usr/share/fish/vendor_completions.d"
install -m 0755 "$nslab" "$pkg/usr/bin/nslab"
strip --strip-unneeded "$pkg/usr/bin/nslab"

# Man pages: nslab.1 and one per subcommand (nslab.deploy.1, nslab.link.set.1 from the tool),
# named as git and others name theirs: nslab-deploy(1), nslab-link-set(1).
manuals=$stage/man
mkdir "$manuals"
"$bin/generate-manual" "$pkg/usr/bin/nslab" --multi-page --output-directory "$manuals" \
  --authors "the nslab maintainers" --section 1 >&2
for page in "$manuals"/*.1; do
  name=$(basename "$page" .1)
  name=${name//./-}
  # The title, the NAME line (what whatis and apropos index) and the SEE ALSO references
  # (.Xr nslab.deploy 1) under the page's own name; the synopsis keeps the command as typed
  # ("nslab deploy"), which a bare .Nm would otherwise repeat from the NAME line.
  # (.Nd unquoted: mandb would copy the quotes into whatis; .Nd is not parsed, so no word of
  # it can be taken for a macro.)
  sed -e "s/^\.Dt [A-Z.]* 1/.Dt \U${name}\E 1/" -e '/^\.Xr nslab/ { s/\./-/g; s/^-Xr/.Xr/; }' \
      -e 's/^\.Nd "\([^"]*\)"$/.Nd \1/' "$page" |
    awk -v name="$name" '
      /^\.Sh NAME/ { in_name = 1; print; next }
      /^\.Sh / { in_name = 0 }
      in_name && /^\.Nm / { typed = substr($0, 5); print ".Nm " name; next }
      /^\.Nm$/ && typed != "" { print ".Nm " typed; next }
      { print }' > "$pkg/usr/share/man/man1/$name.1"
done
[ -f "$pkg/usr/share/man/man1/nslab.1" ] && [ -f "$pkg/usr/share/man/man1/nslab-deploy.1" ] || {
  echo "package.sh: generate-manual made no nslab.1 or nslab-deploy.1; it wrote: $(ls "$manuals")" >&2; exit 1; }
gzip -9n "$pkg"/usr/share/man/man1/*.1

# bash sources completion files, it does not run them: no #! line.
"$pkg/usr/bin/nslab" --generate-completion-script bash | sed '1{/^#!/d}' > "$pkg/usr/share/bash-completion/completions/nslab"
"$pkg/usr/bin/nslab" --generate-completion-script zsh > "$pkg/usr/share/zsh/vendor-completions/_nslab"
"$pkg/usr/bin/nslab" --generate-completion-script fish > "$pkg/usr/share/fish/vendor_completions.d/nslab.fish"

install -m 0644 schema/*.json "$pkg/usr/share/nslab/schema/"
install -m 0644 examples/*.yaml "$pkg/usr/share/nslab/examples/"
gzip -9nc README.md > "$pkg/usr/share/doc/nslab/README.md.gz"
gzip -9nc docs/topology.md > "$pkg/usr/share/doc/nslab/topology.md.gz"
cat > "$pkg/usr/share/doc/nslab/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: nslab
Comment: Built from git commit $commit.

Files: *
Copyright: 2026 the nslab maintainers
License: none-declared
 The nslab source tree does not yet carry a license statement.
EOF
{ echo "nslab ($version) unstable; urgency=medium"
  echo
  echo "  * Built from git commit $commit."
  echo
  echo " -- nslab maintainers <maintainers@nslab.invalid>  $(date -R -u -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")"
} | gzip -9n > "$pkg/usr/share/doc/nslab/changelog.gz"  # a native package (no Debian revision)

# The C libraries the binary links (libc, libstdc++, ...), as dpkg-shlibdeps finds them; it
# reads a debian/control, so it is given a minimal one of its own.
mkdir -p "$stage/src/debian"
printf 'Source: nslab\n\nPackage: nslab\nArchitecture: any\n' > "$stage/src/debian/control"
shlibs=$(cd "$stage/src" && dpkg-shlibdeps -O "$pkg/usr/bin/nslab" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "package.sh: dpkg-shlibdeps found no library dependencies for the binary" >&2; exit 1; }

installed_size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
# What nslab runs or reads at run time: iproute2's delay distribution tables (impair
# distribution=normal|pareto|...), and `ip netns`, with which every lab is used; tcpdump
# compiles capture filters; Graphviz draws svg and png. nslab ping/trace need no ping.
cat > "$pkg/DEBIAN/control" <<EOF
Package: nslab
Version: $version
Architecture: $arch
Maintainer: nslab maintainers <maintainers@nslab.invalid>
Installed-Size: $installed_size
Depends: $shlibs, iproute2
Recommends: iputils-ping, tcpdump
Suggests: graphviz, traceroute, bash-completion
Section: net
Priority: optional
Description: virtual networks of Linux network namespaces from one YAML file
 nslab builds labs of hosts, routers and switches joined by veth pairs, with
 addresses, routes, VLANs and link impairments, from a short topology file, as
 network namespaces that iproute2 sees like hand-made ones (ip netns exec NODE).
 It checks them (verify, trace, explain), changes links live (down, up,
 impair, flap), captures traffic, draws labs and serves a live web view;
 destroy removes everything it made, and nothing else.
 .
 The JSON Schema of topology files and example labs are in /usr/share/nslab.
EOF
(cd "$pkg" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
find "$pkg" -type d -exec chmod 0755 {} +
find "$pkg/usr/share" -type f -exec chmod 0644 {} +

mkdir -p "$out"
deb=$out/nslab_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >&2
echo "package.sh: $deb ($(du -h "$deb" | cut -f1)), nslab $version_line, $(dpkg-deb -c "$deb" | wc -l) entries" >&2
echo "$deb"
