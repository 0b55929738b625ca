/** Every Slack command, callback_id, action_id and block_id the app uses. manifest.json must agree. */
export const COMMANDS = {
  briefly: '/briefly',
  reps: '/reps',
  briefing: '/briefing',
  appointments: '/appointments',
  sequences: '/sequences',
  mailouts: '/mailouts',
} as const;

export const CALLBACKS = {
  repForm: 'rep_form',
  settingsForm: 'settings_form',
  briefingSettings: 'briefing_settings',
  sendTestEmail: 'send_test_email',
  appointmentForm: 'appointment_form',
  sequenceEnroll: 'sequence_enroll',
  sequenceForm: 'sequence_form',
  mailoutForm: 'mailout_form',
  mailoutReject: 'mailout_reject',
  mailoutAudience: 'mailout_audience',
  statsChannels: 'stats_channels_form',
} as const;

/** The mailout create/edit modal's input blocks. */
export const MAILOUT_FORM_BLOCKS = {
  name: 'mailout_name',
  text: 'mailout_text',
  textSize: 'mailout_text_size',
  startsAt: 'mailout_starts_at',
  endsAt: 'mailout_ends_at',
  windowFrom: 'mailout_window_from',
  windowTo: 'mailout_window_to',
  operatorCodes: 'mailout_operator_codes',
  tags: 'mailout_tags',
  audience: 'mailout_audience_size',
} as const;

export const MAILOUT_REJECT_BLOCKS = { reason: 'mailout_reject_reason' } as const;

export const SEQUENCE_ENROLL_BLOCKS = { emails: 'sequence_enroll_emails' } as const;

/** The create/edit modal: fixed blocks, and per step N (1-5) `seq_step_N_delay|subject|body`. */
export const SEQUENCE_FORM_BLOCKS = {
  name: 'seq_name',
  windowFrom: 'seq_window_from',
  windowTo: 'seq_window_to',
  timeZone: 'seq_time_zone',
  days: 'seq_days',
  mailboxes: 'seq_mailboxes',
} as const;
export const SEQUENCE_FORM_MAX_STEPS = 5;
export const sequenceStepBlock = (step: number, part: 'delay' | 'subject' | 'body') =>
  `seq_step_${step}_${part}`;

export const ACTIONS = {
  repEdit: 'rep_edit',
  repRemove: 'rep_remove',
  repsPage: 'reps_page',
  repUserPicked: 'rep_user_picked',
  repAdd: 'rep_add',
  /** The link button to a calendar's consent page: Slack still posts the click, which gets a bare ack. */
  calendarConnectLink: 'calendar_connect_link',
  /** "Send test email" in /briefly deliveries (admins) and "Refresh status" on the test's card. */
  testEmailOpen: 'test_email_open',
  testEmailRefresh: 'test_email_refresh',
  appointmentNew: 'appointment_new',
  appointmentCancel: 'appointment_cancel',
  appointmentReschedule: 'appointment_reschedule',
  sequenceOpen: 'sequence_open',
  sequencePause: 'sequence_pause',
  sequenceResume: 'sequence_resume',
  sequenceEnrollOpen: 'sequence_enroll_open',
  sequenceNew: 'sequence_new',
  sequenceEdit: 'sequence_edit',
  mailoutNew: 'mailout_new',
  mailoutOpen: 'mailout_open',
  mailoutEdit: 'mailout_edit',
  /** Approval card buttons: the value is "<id>:<version>" (a decision on another version is refused). */
  mailoutApprove: 'mailout_approve',
  mailoutEditApprove: 'mailout_edit_approve',
  mailoutReject: 'mailout_reject_open',
  mailoutAudience: 'mailout_audience_open',
  /** Progress card buttons (value "<id>"). */
  mailoutPause: 'mailout_pause',
  mailoutResume: 'mailout_resume',
  mailoutCancel: 'mailout_cancel',
  /** Elements of the mailout modal that redraw it (text size, audience): dispatch_action. */
  mailoutFormText: 'mailout_form_text',
  mailoutFormTime: 'mailout_form_time',
  /** Filter selects: also the action_id of their external-select `options` requests. */
  mailoutFormOperators: 'mailout_form_operators',
  mailoutFormTags: 'mailout_form_tags',
  /** "Daily stats channels" in /briefly settings, and "Remove" on a channel in that modal. */
  statsChannelsOpen: 'stats_channels_open',
  statsChannelRemove: 'stats_channel_remove',
} as const;

export const APPOINTMENT_FORM_BLOCKS = {
  service: 'appointment_service',
  date: 'appointment_date',
  time: 'appointment_time',
  attendeeName: 'appointment_attendee_name',
  attendeeEmail: 'appointment_attendee_email',
  attendeeTimeZone: 'appointment_attendee_time_zone',
  location: 'appointment_location',
  notes: 'appointment_notes',
} as const;

export const TEST_EMAIL_BLOCKS = {
  recipient: 'test_email_recipient',
  address: 'test_email_address',
  subject: 'test_email_subject',
} as const;

/** Option values of the recipient radio buttons in the test email modal. */
export const TEST_EMAIL_RECIPIENTS = { me: 'me', address: 'address' } as const;

export const REP_FORM_BLOCKS = {
  user: 'rep_user',
  email: 'rep_email',
  timeZone: 'rep_time_zone',
  briefingTime: 'rep_briefing_time',
  calendarSource: 'rep_calendar_source',
  role: 'rep_role',
} as const;

/** Inside each input block the element's action_id is simply "value". */
export const INPUT_ACTION = 'value';

export const SETTINGS_FORM_BLOCKS = {
  alert_channel: 'settings_alert_channel',
  stats_channel: 'settings_stats_channel',
  approvals_channel: 'settings_approvals_channel',
  mailout_managers: 'settings_mailout_managers',
} as const;

export const BRIEFING_SETTINGS_BLOCKS = {
  briefingTime: 'briefing_settings_briefing_time',
  prepTime: 'briefing_settings_prep_time',
  timeZone: 'briefing_settings_time_zone',
  options: 'briefing_settings_options',
} as const;

/** Option values of the checkboxes in the briefing settings modal. */
export const BRIEFING_SETTINGS_OPTIONS = {
  slackDm: 'slack_dm',
  emptyBriefings: 'empty_briefings',
} as const;

/** The "Daily stats channels" modal's add/change form (pushed from /briefly settings). */
export const STATS_CHANNEL_FORM_BLOCKS = {
  channel: 'stats_channel_pick',
  time: 'stats_channel_time',
  timeZone: 'stats_channel_time_zone',
  sections: 'stats_channel_sections',
} as const;
