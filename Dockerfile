# unknot's image: TypeScript compiled to dist/ in a build stage, run by `node` directly on Node 24 LTS (no tsx,
# no npm as PID 1: node itself gets SIGTERM and shuts down cleanly), as the unprivileged `node` user.

# 1. Compile src/, workers/ and the mosquitto-auth script with every dependency (TypeScript is a dev one).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
COPY scripts ./scripts
RUN npm run build

# 2. Runtime dependencies only (bull-board included: ~4 MB).
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# 3. The image: compiled code, runtime dependencies, the config folder and the dashboard's static files.
FROM node:24-slim
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
# Served as they are (no build step); dist/src/http/dashboard.js finds them here.
COPY src/http/dashboard ./src/http/dashboard
USER node
EXPOSE 8080
CMD ["node", "dist/src/main.js"]
