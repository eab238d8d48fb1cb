// The protocol's own samples (shared/talkdesk-contact-sync.md), shown in the OpenAPI document as
// the shape Talkdesk sends and expects. They show the shape only: this bridge issues opaque
// `v1.…` tokens, so the sample's offset "2" would be refused (its plain-timestamp checkpoint
// would be accepted).

export const SAMPLE_SYNC_REQUEST = {
  auth: { username: 'someone@example.com', password: '605b32dd' },
  meta: { offset: '2', synchronization_checkpoint: '2012-11-20 23:01:00 UTC', context: null },
};

export const SAMPLE_SYNC_RESPONSE = {
  next_offset: '3',
  synchronization_checkpoint: '2012-12-01 11:21:00 UTC',
  context: null,
  contacts: [
    {
      id: '1',
      name: 'Jane Doe',
      title: 'CTO',
      emails: ['jane@example.com', 'jane.doe@example.com'],
      phones: ['+15555555555'],
      photo_url: 'http://example.com/users/1/photo',
      company: 'Example Corp.',
      address: '37, Famous St., New York, US',
      websites: ['www.example.com'],
      twitter: 'jane_doe',
      url: 'http://example.com/users/1/',
    },
    { id: '2', name: 'Joe', title: 'Staff', emails: ['joe@example.com'] },
  ],
};
