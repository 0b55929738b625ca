import { Button } from '@react-email/button';
import { Heading } from '@react-email/heading';
import { Text } from '@react-email/text';
import { z } from 'zod';
import { Layout } from './_components/layout.tsx';

/** A plain notification: a heading, paragraphs and an optional call to action. */
export const notificationSchema = z.object({
  heading: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  paragraphs: z
    .array(z.string().max(5_000, 'must be at most 5000 characters'))
    .min(1, 'must have at least one paragraph')
    .max(20, 'must have at most 20 paragraphs'),
  action: z
    .object({
      label: z.string().trim().min(1).max(80),
      url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
    })
    .optional(),
  footer: z.string().max(500).optional(),
});

export type NotificationProps = z.infer<typeof notificationSchema>;

export default function Notification({ heading, paragraphs, action, footer }: NotificationProps) {
  return (
    <Layout preview={paragraphs[0] ?? heading} footer={footer}>
      <Heading as="h1" style={{ fontSize: '22px', margin: '0 0 16px' }}>
        {heading}
      </Heading>
      {paragraphs.map((paragraph, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: paragraphs are static, ordered text
        <Text key={index} style={{ fontSize: '15px', lineHeight: '22px' }}>
          {paragraph}
        </Text>
      ))}
      {action ? (
        <Button
          href={action.url}
          style={{ backgroundColor: '#1f6feb', color: '#ffffff', padding: '10px 18px', borderRadius: '6px' }}
        >
          {action.label}
        </Button>
      ) : null}
    </Layout>
  );
}

Notification.PreviewProps = {
  heading: 'Your password was changed',
  paragraphs: ['Someone (hopefully you) changed the password of your account a minute ago.'],
  action: { label: 'Review account', url: 'https://example.com/account' },
} satisfies NotificationProps;
