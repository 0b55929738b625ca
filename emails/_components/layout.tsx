import { Body } from '@react-email/body';
import { Container } from '@react-email/container';
import { Head } from '@react-email/head';
import { Hr } from '@react-email/hr';
import { Html } from '@react-email/html';
import { Preview } from '@react-email/preview';
import { Section } from '@react-email/section';
import { Text } from '@react-email/text';
import type { ReactNode } from 'react';

/** The frame every Briefly email shares: preview line, a narrow column, a quiet footer. */
export function Layout({
  preview,
  children,
  footer,
}: {
  preview: string;
  children: ReactNode;
  footer?: string;
}) {
  return (
    <Html lang="en">
      <Head />
      <Preview>{preview}</Preview>
      <Body style={{ backgroundColor: '#f6f7f9', fontFamily: 'Helvetica, Arial, sans-serif', margin: 0 }}>
        <Container
          style={{ backgroundColor: '#ffffff', maxWidth: '600px', padding: '24px', margin: '16px auto' }}
        >
          <Section>{children}</Section>
          <Hr style={{ borderColor: '#e5e7eb', margin: '24px 0 12px' }} />
          <Text style={{ color: '#6b7280', fontSize: '12px', margin: 0 }}>
            {footer ?? 'Sent by Briefly.'}
          </Text>
        </Container>
      </Body>
    </Html>
  );
}
