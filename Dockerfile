# syntax=docker/dockerfile:1
# Build with dev dependencies; run with production ones only, as a non-root user.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim AS run
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
USER node
EXPOSE 8000 8080
# node runs as PID 1 and handles SIGTERM/SIGINT itself (src/lifecycle): readiness fails at
# once, work drains, then it exits; no shell sits in between to swallow the signal.
HEALTHCHECK --interval=10s --timeout=2s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const b=process.env.ROLE==='balancer';fetch('http://127.0.0.1:'+(process.env.PORT||(b?8080:8000))+(b?'/_balancer/live':'/live')).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
