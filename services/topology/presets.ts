// The link profiles users pick by name. Every number cites where it comes from ("E" marks an estimate);
// the table with the full references is in README.md ("Presets and their sources"). These are the only
// place the numbers are written: the YAML under k8s/ and the docs tables are generated from them.
import { API_VERSION, KIND } from './model.ts';
import type { LinkDocument, LinkProfileDocument } from './schema.ts';

const SOURCES = {
  msit2020: 'MSIT/NIA 2020 quality evaluation: 5G RTT average 30.01 ms (Yonhap Infomax, 2020-08-05)',
  msit2021:
    'MSIT 2021 evaluation: 5G RTT 18.61 ms, loss 0.11-0.80%, 801/83 Mbit/s; LTE 150/40 Mbit/s (Edaily, 2021-12-30)',
  rs2022: 'Kottkamp (Rohde & Schwarz), "5G NR and LTE latency analysis in a public network", 2022',
  aalborg: 'Rodriguez et al., Aalborg 5G/Wi-Fi latency data, IEEE Commun. Mag. 2021',
  ericsson: 'Ericsson Microwave Outlook 2020 (10 Gbit/s backhaul)',
  wavelength:
    'aws-samples/wavelength-latency-benchmarking (2024): ~28 ms to the Dallas zone vs ~66 ms to N. Virginia',
  opensignal: 'Opensignal US LTE reports',
  azure: 'Azure network round-trip latency statistics (2023): Korea-US West 123-135 ms',
  hoiland: 'Høiland-Jørgensen et al., "Measuring Latency Variation in the Internet", 2016',
  skt: 'SK Telecom MEC announcements, 2019: "reduces latency up to 60%" (Nextdaily 2019-06-13)',
};

/** 5G radio and access to a MEC host at the aggregation site: ~6 ms one way (E), 800/80 Mbit/s. */
const FIVE_G_ACCESS: LinkDocument = {
  description: '5G NR radio + access to the MEC host (one-way delay E from the 30 ms national RTT average)',
  latency: '6ms',
  jitter: '2ms',
  distribution: 'normal',
  loss: '0.1%',
  rate: '800Mbit',
  directions: { 'ue->edge': { rate: '80Mbit' } },
};

function profile(name: string, description: string, sources: string[], links: Record<string, LinkDocument>) {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name,
    description,
    sources,
    links,
  } satisfies LinkProfileDocument;
}

export const PRESETS: Record<string, LinkProfileDocument> = {
  '5g-mec': profile(
    '5g-mec',
    'Default. 5G with a MEC host at the operator aggregation site and a national cloud region: echo RTT 12 ms at the edge vs 30 ms at the cloud, the 60% operators quote.',
    [SOURCES.msit2020, SOURCES.msit2021, SOURCES.rs2022, SOURCES.aalborg, SOURCES.ericsson, SOURCES.skt],
    {
      'ue-edge': FIVE_G_ACCESS,
      'edge-cloud': {
        description: 'Backhaul, core and transit to the cloud region (loss E)',
        latency: '9ms',
        jitter: '1ms',
        distribution: 'normal',
        loss: '0.01%',
        rate: '10Gbit',
      },
    },
  ),
  '5g-wavelength': profile(
    '5g-wavelength',
    'Measured in the US: an AWS Wavelength zone (Dallas) vs the N. Virginia region, 28 ms vs 66 ms (58% cut).',
    [SOURCES.wavelength, SOURCES.msit2021],
    {
      'ue-edge': {
        ...FIVE_G_ACCESS,
        description: '5G radio to a Wavelength zone',
        latency: '14ms',
        jitter: '1ms',
      },
      'edge-cloud': {
        description: 'Dallas to N. Virginia',
        latency: '19ms',
        jitter: '1ms',
        loss: '0%',
        rate: '10Gbit',
      },
    },
  ),
  '4g-lte': profile(
    '4g-lte',
    'LTE radio, same backhaul as 5g-mec: 28 ms vs 46 ms (39% cut). Loss and backhaul rate are estimates.',
    [SOURCES.msit2021, SOURCES.opensignal, SOURCES.aalborg],
    {
      'ue-edge': {
        description: 'LTE radio + access (loss E)',
        latency: '14ms',
        jitter: '3ms',
        distribution: 'normal',
        loss: '0.3%',
        rate: '150Mbit',
        directions: { 'ue->edge': { rate: '40Mbit' } },
      },
      'edge-cloud': {
        description: 'Backhaul (rate E)',
        latency: '9ms',
        jitter: '1ms',
        loss: '0.01%',
        rate: '1Gbit',
      },
    },
  ),
  'congested-backhaul': profile(
    'congested-backhaul',
    '5G access with a congested backhaul: 12 ms vs 72 ms plus a heavy tail (83% cut). Backhaul numbers are estimates.',
    [SOURCES.msit2020, SOURCES.hoiland],
    {
      'ue-edge': FIVE_G_ACCESS,
      'edge-cloud': {
        description: 'Congested backhaul: heavy-tailed queueing delay, 1% loss, 50 Mbit/s (all E)',
        latency: '30ms',
        jitter: '15ms',
        distribution: 'paretonormal',
        loss: '1%',
        rate: '50Mbit',
      },
    },
  ),
  'far-cloud': profile(
    'far-cloud',
    '5G access with the cloud region across the Pacific (Seoul to US West): 12 ms vs 142 ms (92% cut).',
    [SOURCES.azure, SOURCES.msit2020],
    {
      'ue-edge': FIVE_G_ACCESS,
      'edge-cloud': {
        description: 'Seoul to US West (loss and rate E)',
        latency: '65ms',
        jitter: '2ms',
        loss: '0.1%',
        rate: '1Gbit',
      },
    },
  ),
  'wifi-lan-edge': profile(
    'wifi-lan-edge',
    'An on-premises edge on the Wi-Fi LAN: 2.8 ms vs 22.8 ms (88% cut). Loss and backhaul rate are estimates.',
    [SOURCES.aalborg, SOURCES.msit2021],
    {
      'ue-edge': {
        description: 'Wi-Fi 5 to an on-premises server (loss E)',
        latency: '1.4ms',
        jitter: '0.5ms',
        loss: '0.05%',
        rate: '400Mbit',
      },
      'edge-cloud': {
        description: 'Site uplink to the cloud (rate E)',
        latency: '10ms',
        jitter: '1ms',
        loss: '0.01%',
        rate: '1Gbit',
      },
    },
  ),
};

export const DEFAULT_PRESET = '5g-mec';
export const PRESET_NAMES = Object.keys(PRESETS);
