#!/usr/bin/env node
// The `xmtp` command. The TypeScript sources are built to dist/ by the root `prepare` script.
import "../dist/main.js";
