/**
 * Builders for Discord wire payloads (API v10 shapes) used by the stand-in and the tests: users, guilds,
 * members, messages and application-command interactions. Ids are snowflake-looking decimal strings.
 */

/** Discord permission bits the tests use. */
export const PERMISSION = {
  administrator: 1n << 3n,
  manageGuild: 1n << 5n,
  sendMessages: 1n << 11n,
  viewChannel: 1n << 10n,
} as const;

/** Plain member permissions (view + send). */
export const MEMBER_PERMISSIONS = (PERMISSION.viewChannel | PERMISSION.sendMessages).toString();

let nextId = 1_300_000_000_000_000_000n;

/** A fresh snowflake-looking id. */
export function snowflake(): string {
  nextId += 1n;
  return nextId.toString();
}

/** A user object. */
export interface WireUser {
  id: string;
  username: string;
  global_name: string | null;
  discriminator: string;
  avatar: string | null;
  bot?: boolean;
}

/** Build a user. */
export function wireUser(id: string, username: string, isBot = false): WireUser {
  return {
    id,
    username,
    global_name: isBot ? null : username,
    discriminator: "0",
    avatar: null,
    ...(isBot ? { bot: true } : {}),
  };
}

/** A role in a guild. */
export interface WireRole {
  id: string;
  name: string;
  permissions: string;
  position: number;
}

/** A guild as GET /guilds/{id} and GUILD_CREATE carry it (the parts the adapter reads). */
export interface WireGuild {
  id: string;
  name: string;
  owner_id: string;
  roles: WireRole[];
}

/** A guild member. */
export interface WireMember {
  user: WireUser;
  roles: string[];
  nick: string | null;
  joined_at: string;
  deaf: boolean;
  mute: boolean;
  flags: number;
}

/** Build a member with these role ids. */
export function wireMember(user: WireUser, roles: string[] = []): WireMember {
  return { user, roles, nick: null, joined_at: new Date(0).toISOString(), deaf: false, mute: false, flags: 0 };
}

/** A full GUILD_CREATE payload for a small guild with one text channel. */
export function guildCreatePayload(
  guild: WireGuild,
  channelIds: string[],
  members: WireMember[],
): Record<string, unknown> {
  return {
    ...guild,
    icon: null,
    splash: null,
    discovery_splash: null,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: 0,
    system_channel_flags: 0,
    premium_tier: 0,
    preferred_locale: "en-US",
    nsfw_level: 0,
    joined_at: new Date(0).toISOString(),
    large: false,
    unavailable: false,
    member_count: members.length,
    voice_states: [],
    members,
    channels: channelIds.map((id, i) => ({
      id,
      type: 0,
      guild_id: guild.id,
      name: `general-${i}`,
      position: i,
      permission_overwrites: [],
    })),
    threads: [],
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    roles: guild.roles.map((r) => ({ ...r, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 })),
  };
}

/** One option of a slash command as Discord sends it. */
export interface WireOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  options?: WireOption[];
}

/** What a test says about an interaction; the rest is filled in. */
export interface InteractionSpec {
  name: string;
  options?: WireOption[];
  user: WireUser;
  /** Absent for a DM. */
  guildId?: string;
  channelId: string;
  /** Computed permissions of the member in the channel (decimal string). */
  permissions?: string;
  roles?: string[];
  applicationId: string;
  id?: string;
  token?: string;
}

/** A full APPLICATION_COMMAND interaction (type 2). */
export function interactionPayload(spec: InteractionSpec): Record<string, unknown> {
  const id = spec.id ?? snowflake();
  const base: Record<string, unknown> = {
    id,
    application_id: spec.applicationId,
    type: 2,
    data: {
      id: snowflake(),
      name: spec.name,
      type: 1,
      ...(spec.options === undefined ? {} : { options: spec.options }),
    },
    channel_id: spec.channelId,
    token: spec.token ?? `itok-${id}-${Math.random().toString(36).slice(2)}`,
    version: 1,
    locale: "en-US",
    app_permissions: "2248473465835073",
    entitlements: [],
    authorizing_integration_owners: { "0": spec.guildId ?? spec.user.id },
    context: spec.guildId === undefined ? 1 : 0,
    attachment_size_limit: 10_485_760,
  };
  if (spec.guildId !== undefined) {
    base.guild_id = spec.guildId;
    base.guild_locale = "en-US";
    base.guild = { id: spec.guildId, locale: "en-US", features: [] };
    base.channel = {
      id: spec.channelId,
      type: 0,
      guild_id: spec.guildId,
      name: "general",
      permissions: spec.permissions ?? MEMBER_PERMISSIONS,
    };
    base.member = { ...wireMember(spec.user, spec.roles ?? []), permissions: spec.permissions ?? MEMBER_PERMISSIONS };
  } else {
    base.channel = { id: spec.channelId, type: 1, recipients: [spec.user] };
    base.user = spec.user;
  }
  return base;
}

/** What a test says about a channel message. */
export interface MessageSpec {
  content: string;
  author: WireUser;
  channelId: string;
  guildId?: string;
  /** Users mentioned (the bot, for a mention). */
  mentions?: WireUser[];
  roles?: string[];
  id?: string;
  /** Attachments as Discord lists them (`url` where the file is served). */
  attachments?: Array<{ filename: string; content_type?: string; size: number; url: string }>;
}

/** A full MESSAGE_CREATE payload. */
export function messagePayload(spec: MessageSpec): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    id: spec.id ?? snowflake(),
    channel_id: spec.channelId,
    author: spec.author,
    content: spec.content,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: spec.mentions ?? [],
    mention_roles: [],
    attachments: (spec.attachments ?? []).map((a, i) => ({ id: String(i + 1), proxy_url: a.url, ...a })),
    embeds: [],
    pinned: false,
    type: 0,
    flags: 0,
    components: [],
  };
  if (spec.guildId !== undefined) {
    payload.guild_id = spec.guildId;
    payload.member = {
      roles: spec.roles ?? [],
      nick: null,
      joined_at: new Date(0).toISOString(),
      deaf: false,
      mute: false,
      flags: 0,
    };
  }
  return payload;
}
