# Hangar API and worker image (one image, two commands). Node 24 runs the TypeScript sources
# directly (type stripping), so there is no build step.
FROM node:24.11.1-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HANGAR_ENV=production HANGAR_DATA_DIR=/var/lib/hangar
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-fund --no-audit && npm cache clean --force
COPY api ./api
COPY activities ./activities
COPY cli ./cli
COPY db ./db
COPY domain ./domain
COPY keyfiles ./keyfiles
COPY logging ./logging
COPY providers ./providers
COPY workers ./workers
COPY workflows ./workflows
RUN useradd --system --home /var/lib/hangar hangar && mkdir -p /var/lib/hangar && chown hangar /var/lib/hangar
USER hangar
ENTRYPOINT ["node", "--no-warnings=ExperimentalWarning", "cli/main.ts"]
CMD ["serve"]
