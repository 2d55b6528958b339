import { adapterContract } from "./adapter.contract.ts";
import { makeDiscordHarness } from "../stand-ins/discord/harness.ts";

adapterContract("discord", makeDiscordHarness);
