// @jsxRuntime automatic (how tsx must compile this file for the Node tests; Vite does already)
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { token, tokenFromFragment } from './hub-api.ts';
import './styles.css';

const handed = tokenFromFragment(location.hash);
if (handed.token) {
  token.set(handed.token);
  history.replaceState(null, '', `${location.pathname}${location.search}${handed.rest}`);
}

const root = document.getElementById('root');
if (root)
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
