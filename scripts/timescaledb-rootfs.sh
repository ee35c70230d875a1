# Sourced by scripts/image.sh timescaledb: lays out $ctx (root/ and the
# Dockerfile) for a FROM-scratch PostgreSQL with TimescaleDB, from this
# host's Debian packages, at Debian's own paths (the binaries look for
# their share and lib directories where they were built to).
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pg_bin" ] || { echo "no PostgreSQL here (apt-get install postgresql)"; exit 1; }
pg_major=$(basename "$(dirname "$pg_bin")")
pg_lib="/usr/lib/postgresql/$pg_major/lib"
pg_share="/usr/share/postgresql/$pg_major"
ls "$pg_lib"/timescaledb-*.so >/dev/null 2>&1 ||
    { echo "TimescaleDB is not installed for PostgreSQL $pg_major (scripts/test.sh builds it)"; exit 1; }
[ -x /bin/busybox ] || { echo "no /bin/busybox (apt-get install busybox-static)"; exit 1; }

root="$ctx/root"
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/var/run/postgresql" "$root/var/lib/postgresql/data"
chmod 1777 "$root/tmp"
for b in postgres initdb pg_ctl pg_isready; do
    mkdir -p "$root$pg_bin"
    cp -L "$pg_bin/$b" "$root$pg_bin/$b"
    copy_libs "$pg_bin/$b"
done
# Every module but LLVM's JIT (about 100 MB of libLLVM; the entrypoint
# turns jit off) and the static libraries.
mkdir -p "$root$pg_lib"
for so in "$pg_lib"/*.so; do
    case "$(basename "$so")" in llvmjit*) continue ;; esac
    cp -L "$so" "$root$so"
    copy_libs "$so"
done
mkdir -p "$root/usr/share/postgresql"
cp -a "$pg_share" "$root$pg_share"
# Debian builds PostgreSQL against the system's time-zone data.
mkdir -p "$root/usr/share"
cp -a /usr/share/zoneinfo "$root/usr/share/zoneinfo"
cp /bin/busybox "$root/bin/busybox"
cp scripts/timescaledb-entrypoint.sh "$root/bin/docker-entrypoint.sh"
chmod 0755 "$root/bin/docker-entrypoint.sh"
# initdb asks who it runs as; the official images use uid 999 too, so a
# volume made by either keeps working.
printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\npostgres:x:999:\n' >"$root/etc/group"

cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY root/ /
# A shell and its tools for the entrypoint and for one-shot jobs such as
# docker-compose.yml's password generator.
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/chown", "-R", "999:999", "/var/lib/postgresql", "/var/run/postgresql"]
ENV PATH=$pg_bin:/bin \\
    PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
EXPOSE 5432
USER 999:999
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/docker-entrypoint.sh"]
CMD ["postgres"]
DOCKERFILE
